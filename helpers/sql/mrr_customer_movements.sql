-- Each customer's MRR movement in each month against the month before:
-- new (first active month ever), reactivation (active again after at least
-- one inactive month), expansion / contraction (active both months, MRR up /
-- down), unchanged (active both months, same MRR) or churn (active the month
-- before, not this month). amount = mrr - previous_mrr, so contraction and
-- churn are <= 0 and the amounts of a month add up to its MRR change.
-- Classified over the whole history (a customer is new once, ever); callers
-- select months afterwards. The placeholders below take the mrr_*.sql
-- files of the same names.
with months as (
    {month_spine}
),

customer_months as (
    {customer_months}
),

history_end as (
    select
        max(month) as last_month
    from months
),

-- Only active months have rows, so the neighbouring active months tell
-- whether the customer was active in the month just before or after.
sequenced as (
    select
        customer_id,
        segment,
        month,
        mrr,
        min(month) over (partition by customer_id) as cohort_month,
        lag(month) over (partition by customer_id order by month) as previous_active_month,
        lag(mrr) over (partition by customer_id order by month) as previous_active_mrr,
        lead(month) over (partition by customer_id order by month) as next_active_month
    from customer_months
),

active_movements as (
    select
        month,
        customer_id,
        segment,
        cohort_month,
        case
            when previous_active_month is null then 'new'
            when previous_active_month < cast(month - interval 1 month as date) then 'reactivation'
            when mrr > previous_active_mrr then 'expansion'
            when mrr < previous_active_mrr then 'contraction'
            else 'unchanged'
        end as movement,
        case
            when previous_active_month = cast(month - interval 1 month as date) then previous_active_mrr
            else cast(0 as decimal(18, 2))
        end as previous_mrr,
        mrr
    from sequenced
),

-- A churn is recorded in the month after an active month that is not
-- followed by another active month; none after the last month of the history.
churn_movements as (
    select
        cast(sequenced.month + interval 1 month as date) as month,
        sequenced.customer_id,
        sequenced.segment,
        sequenced.cohort_month,
        'churn' as movement,
        sequenced.mrr as previous_mrr,
        cast(0 as decimal(18, 2)) as mrr
    from sequenced
    cross join history_end
    where sequenced.month < history_end.last_month
        and (
            sequenced.next_active_month is null
            or sequenced.next_active_month > cast(sequenced.month + interval 1 month as date)
        )
),

unioned as (
    select * from active_movements
    union all
    select * from churn_movements
),

final as (
    select
        month,
        customer_id,
        segment,
        cohort_month,
        movement,
        cast(previous_mrr as decimal(18, 2)) as previous_mrr,
        cast(mrr as decimal(18, 2)) as mrr,
        cast(mrr - previous_mrr as decimal(18, 2)) as amount
    from unioned
)

select * from final
