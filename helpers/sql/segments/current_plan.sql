-- Each customer's current plan: the plan tier of its latest-starting
-- subscription (ties broken by subscription_id, the same on every engine);
-- customers.plan_tier where it has none.
with latest_subscriptions as (
    select
        customer_id,
        plan_tier,
        row_number() over (
            partition by customer_id
            order by start_date desc, subscription_id desc
        ) as position
    from raw.subscriptions
),

customers as (
    select
        customer_id,
        plan_tier
    from raw.customers
),

final as (
    select
        customers.customer_id,
        coalesce(latest_subscriptions.plan_tier, customers.plan_tier) as segment
    from customers
    left join latest_subscriptions
        on latest_subscriptions.customer_id = customers.customer_id
        and latest_subscriptions.position = 1
)

select * from final
