-- One customer by id.
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
    where customer_id = $customer_id
)

select * from final
