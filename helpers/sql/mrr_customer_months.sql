-- MRR of each customer in each month it is active (MRR > 0). A customer's
-- MRR in month M is the sum of the mrr of its subscriptions with
-- start_date <= first day of M < end_date (end_date exclusive, null =
-- ongoing): a subscription starting mid-month counts from the next month,
-- one that starts and ends within a month never counts. Inactive months have
-- no row. Each row carries the customer's segment (the customer_segments
-- placeholder takes one of segments/*.sql; 'all' when unsegmented). The
-- month_spine placeholder below takes mrr_month_spine.sql.
with subscriptions as (
    select
        customer_id,
        start_date,
        -- A far-future end keeps the join a plain range join (an "or end_date
        -- is null" condition would turn it into a nested loop).
        coalesce(end_date, cast('9999-12-31' as date)) as end_date,
        mrr
    from raw.subscriptions
),

months as (
    {month_spine}
),

customer_segments as (
    {customer_segments}
),

covered as (
    select
        subscriptions.customer_id,
        months.month,
        subscriptions.mrr
    from subscriptions
    inner join months
        on subscriptions.start_date <= months.month
        and months.month < subscriptions.end_date
),

customer_months as (
    select
        customer_id,
        month,
        sum(mrr) as mrr
    from covered
    group by
        customer_id,
        month
),

final as (
    select
        customer_months.month,
        customer_months.customer_id,
        cast(customer_months.mrr as decimal(18, 2)) as mrr,
        customer_segments.segment
    from customer_months
    inner join customer_segments
        on customer_segments.customer_id = customer_months.customer_id
    where customer_months.mrr > 0
)

select * from final
