-- MRR and paying customers (MRR > 0) of each month between $start_month and
-- $end_month (first days of months; null = unbounded) by segment and age: whole
-- months since the customer's cohort month. One row per (segment, month, age),
-- so a forecast reads a few thousand rows, not one per customer-month. The
-- customer_movements placeholder takes mrr_customer_movements.sql.
with customer_movements as (
    {customer_movements}
),

paying as (
    select
        segment,
        month,
        date_diff('month', cohort_month, month) as age,
        mrr
    from customer_movements
    where mrr > 0
        and month >= coalesce(cast($start_month as date), month)
        and month <= coalesce(cast($end_month as date), month)
),

final as (
    select
        segment,
        month,
        age,
        sum(mrr) as mrr,
        count(*) as customers
    from paying
    group by segment, month, age
)

select * from final
order by
    segment,
    month,
    age
