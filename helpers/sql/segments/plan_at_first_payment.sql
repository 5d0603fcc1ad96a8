-- Each customer's plan tier at its first payment: the plan of its earliest
-- subscription with mrr > 0 (ties broken by subscription_id, so the answer
-- is the same on every engine); '(never paid)' for customers without one.
with paid_subscriptions as (
    select
        customer_id,
        plan_tier,
        row_number() over (
            partition by customer_id
            order by start_date, subscription_id
        ) as position
    from raw.subscriptions
    where mrr > 0
),

customers as (
    select
        customer_id
    from raw.customers
),

final as (
    select
        customers.customer_id,
        coalesce(paid_subscriptions.plan_tier, '(never paid)') as segment
    from customers
    left join paid_subscriptions
        on paid_subscriptions.customer_id = customers.customer_id
        and paid_subscriptions.position = 1
)

select * from final
