-- Cohort retention: one row per cohort (a customer's first active month
-- ever; a reactivated customer stays in it) and age in months, for the
-- cohorts between $start_month and $end_month (null = unbounded), observed up
-- to $end_month (null = the end of the history). logo_retention = share of
-- the cohort active at that age; revenue_retention = the cohort's MRR at that
-- age / its new-business MRR (its MRR in the cohort month). One row per
-- segment too (a segment's cohort is its customers who started that month;
-- a single segment 'all' when unsegmented).
-- The placeholders below take the mrr_*.sql files of the same names.
with months as (
    {month_spine}
),

customer_months as (
    {customer_months}
),

observed as (
    select
        coalesce(cast($start_month as date), min(month)) as first_cohort,
        least(coalesce(cast($end_month as date), max(month)), max(month)) as last_month
    from months
),

cohort_members as (
    select
        customer_id,
        segment,
        min(month) as cohort
    from customer_months
    group by
        customer_id,
        segment
),

cohort_activity as (
    select
        cohort_members.segment,
        cohort_members.cohort,
        customer_months.month,
        count(*) as active_customers,
        sum(customer_months.mrr) as mrr
    from customer_months
    inner join cohort_members
        on cohort_members.customer_id = customer_months.customer_id
    group by
        cohort_members.segment,
        cohort_members.cohort,
        customer_months.month
),

cohort_sizes as (
    select
        segment,
        cohort,
        active_customers as cohort_customers,
        mrr as cohort_new_mrr
    from cohort_activity
    where month = cohort
),

-- Every age of every selected cohort up to the last observed month, so that
-- ages with no active customer show as zero rather than missing.
grid as (
    select
        cohort_sizes.segment,
        cohort_sizes.cohort,
        months.month,
        cohort_sizes.cohort_customers,
        cohort_sizes.cohort_new_mrr
    from cohort_sizes
    cross join observed
    inner join months
        on months.month >= cohort_sizes.cohort
        and months.month <= observed.last_month
    where cohort_sizes.cohort >= observed.first_cohort
),

final as (
    select
        grid.segment,
        grid.cohort,
        cast(
            (extract(year from grid.month) - extract(year from grid.cohort)) * 12
            + extract(month from grid.month) - extract(month from grid.cohort)
            as integer
        ) as age,
        grid.month,
        grid.cohort_customers,
        cast(grid.cohort_new_mrr as decimal(18, 2)) as cohort_new_mrr,
        coalesce(cohort_activity.active_customers, 0) as active_customers,
        cast(coalesce(cohort_activity.mrr, 0) as decimal(18, 2)) as mrr,
        cast(coalesce(cohort_activity.active_customers, 0) as double)
            / grid.cohort_customers as logo_retention,
        cast(coalesce(cohort_activity.mrr, 0) as double)
            / cast(grid.cohort_new_mrr as double) as revenue_retention
    from grid
    left join cohort_activity
        on cohort_activity.segment = grid.segment
        and cohort_activity.cohort = grid.cohort
        and cohort_activity.month = grid.month
)

select * from final
order by
    segment,
    cohort,
    age
