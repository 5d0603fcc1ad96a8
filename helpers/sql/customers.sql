-- Customers for the repositories: one by id ($customer_id), only the active
-- ones ($active_only), or all; ordered by {order_by} (a fixed choice of the
-- repository, never user input).
with customers as (
    select
        customer_id,
        industry,
        plan_tier,
        signup_date,
        mrr,
        churn_date
    from raw.customers
),

final as (
    select *
    from customers
    where ($customer_id is null or customer_id = $customer_id)
      and (not $active_only or churn_date is null)
)

select * from final
order by {order_by}
