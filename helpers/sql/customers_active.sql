-- Customers that have not churned, highest MRR first (ties by id, so the
-- order is stable).
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
    where churn_date is null
)

select * from final
order by mrr desc, customer_id
