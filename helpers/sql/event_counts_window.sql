-- Every customer's events in [$window_start, $as_of), zero for customers
-- without any; customers who signed up on or after $as_of are left out.
with customers as (
    select customer_id
    from raw.customers
    where signup_date < cast($as_of as date)
),

events as (
    select
        customer_id,
        count(*) as events
    from raw.usage_events
    where "timestamp" >= cast($window_start as timestamp)
      and "timestamp" < cast($as_of as timestamp)
    group by customer_id
),

final as (
    select
        customers.customer_id,
        coalesce(events.events, 0) as events
    from customers
    left join events using (customer_id)
)

select * from final
order by customer_id
