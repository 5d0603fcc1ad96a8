-- Each customer's MRR in each month it is active, for the months between
-- $start_month and $end_month (first days of months; null = unbounded). The
-- customer_months placeholder takes mrr_customer_months.sql.
with customer_months as (
    {customer_months}
),

final as (
    select
        month,
        customer_id,
        mrr,
        segment
    from customer_months
    where month >= coalesce(cast($start_month as date), month)
        and month <= coalesce(cast($end_month as date), month)
)

select * from final
order by
    month,
    customer_id
