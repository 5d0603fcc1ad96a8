-- Customers for the repositories: one by id ($customer_id), only the active
-- ones ($active_only: still paying at the data end, which includes a scheduled
-- cancellation whose churn_date lies after it), or all; ordered by {order_by}
-- (a fixed choice of the repository, never user input).
with data_end as (
    select max(data_end) as data_end
    from meta.build_info
),

customers as (
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
    select customers.*
    from customers
    cross join data_end
    where ($customer_id is null or customer_id = $customer_id)
      and (not $active_only or churn_date is null or churn_date > data_end.data_end)
)

select * from final
order by {order_by}
