-- Customers for notebooks; only the active ones when $active_only.
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
    where not $active_only or churn_date is null
)

select * from final
order by customer_id
