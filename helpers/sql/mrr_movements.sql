-- The monthly MRR roll-forward: starting MRR, the signed movements and
-- ending MRR of every month of the history between $start_month and
-- $end_month (first days of months; null = unbounded), with the customer
-- counts of each movement, per segment (one row per month and segment value;
-- a single segment 'all' when unsegmented, so segments add up to it). ending = starting + new + reactivation +
-- expansion + contraction + churn. Starting and ending MRR come from the
-- customer months directly, not from the movements, so the identity is a
-- check on the classification. The placeholders below take the mrr_*.sql
-- files of the same names.
with months as (
    {month_spine}
),

customer_months as (
    {customer_months}
),

customer_movements as (
    {customer_movements}
),

segments as (
    select distinct
        segment
    from customer_months
),

selected_months as (
    select
        months.month,
        segments.segment
    from months
    cross join segments
    where months.month >= coalesce(cast($start_month as date), months.month)
        and months.month <= coalesce(cast($end_month as date), months.month)
),

totals as (
    select
        month,
        segment,
        sum(mrr) as mrr,
        count(*) as customers
    from customer_months
    group by
        month,
        segment
),

movements as (
    select
        month,
        segment,
        sum(case when movement = 'new' then amount else 0 end) as new_mrr,
        sum(case when movement = 'reactivation' then amount else 0 end) as reactivation_mrr,
        sum(case when movement = 'expansion' then amount else 0 end) as expansion_mrr,
        sum(case when movement = 'contraction' then amount else 0 end) as contraction_mrr,
        sum(case when movement = 'churn' then amount else 0 end) as churn_mrr,
        count(case when movement = 'new' then 1 end) as new_customers,
        count(case when movement = 'reactivation' then 1 end) as reactivated_customers,
        count(case when movement = 'expansion' then 1 end) as expanded_customers,
        count(case when movement = 'contraction' then 1 end) as contracted_customers,
        count(case when movement = 'churn' then 1 end) as churned_customers
    from customer_movements
    group by
        month,
        segment
),

final as (
    select
        selected_months.month,
        selected_months.segment,
        cast(coalesce(previous_totals.mrr, 0) as decimal(18, 2)) as starting_mrr,
        cast(coalesce(movements.new_mrr, 0) as decimal(18, 2)) as new,
        cast(coalesce(movements.reactivation_mrr, 0) as decimal(18, 2)) as reactivation,
        cast(coalesce(movements.expansion_mrr, 0) as decimal(18, 2)) as expansion,
        cast(coalesce(movements.contraction_mrr, 0) as decimal(18, 2)) as contraction,
        cast(coalesce(movements.churn_mrr, 0) as decimal(18, 2)) as churn,
        cast(coalesce(totals.mrr, 0) as decimal(18, 2)) as ending_mrr,
        coalesce(previous_totals.customers, 0) as starting_customers,
        coalesce(totals.customers, 0) as active_customers,
        coalesce(movements.new_customers, 0) as new_customers,
        coalesce(movements.reactivated_customers, 0) as reactivated_customers,
        coalesce(movements.expanded_customers, 0) as expanded_customers,
        coalesce(movements.contracted_customers, 0) as contracted_customers,
        coalesce(movements.churned_customers, 0) as churned_customers
    from selected_months
    left join totals
        on totals.month = selected_months.month
        and totals.segment = selected_months.segment
    left join totals as previous_totals
        on previous_totals.month = cast(selected_months.month - interval 1 month as date)
        and previous_totals.segment = selected_months.segment
    left join movements
        on movements.month = selected_months.month
        and movements.segment = selected_months.segment
)

select * from final
order by
    segment,
    month
