-- Each customer's MRR movement in the months between $start_month and
-- $end_month (first days of months; null = unbounded), classified over the
-- whole history. The customer_movements placeholder takes
-- mrr_customer_movements.sql.
with customer_movements as (
    {customer_movements}
),

final as (
    select
        month,
        customer_id,
        segment,
        cohort_month,
        movement,
        previous_mrr,
        mrr,
        amount
    from customer_movements
    where month >= coalesce(cast($start_month as date), month)
        and month <= coalesce(cast($end_month as date), month)
)

select * from final
order by
    month,
    customer_id
