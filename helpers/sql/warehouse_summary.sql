-- One row per warehouse table: rows, customers covered and the date span.
with customers as (
    select 'customers' as table_name, count(*) as row_count,
        count(distinct customer_id) as customers,
        cast(min(signup_date) as timestamp) as first_date,
        cast(max(signup_date) as timestamp) as last_date
    from raw.customers
),

subscriptions as (
    select 'subscriptions', count(*), count(distinct customer_id),
        cast(min(start_date) as timestamp), cast(max(start_date) as timestamp)
    from raw.subscriptions
),

usage_events as (
    select 'usage_events', count(*), count(distinct customer_id),
        min("timestamp"), max("timestamp")
    from raw.usage_events
),

support_tickets as (
    select 'support_tickets', count(*), count(distinct customer_id),
        min(created_at), max(created_at)
    from raw.support_tickets
),

final as (
    select * from customers
    union all select * from subscriptions
    union all select * from usage_events
    union all select * from support_tickets
)

select * from final
