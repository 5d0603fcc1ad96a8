-- The latest observed activity in {schema} (the data end that `auto`
-- infers): signups, subscription starts, usage events, ticket creation and
-- resolution. End dates are not activity: an end date after every observed
-- activity is a scheduled cancellation (the subscription is paid until then),
-- and one before it changes nothing. Also counts the dates after $data_end.
with activity as (
    select max(signup_date) as latest_day from {schema}.customers
    union all
    select max(start_date) from {schema}.subscriptions
    union all
    select cast(max("timestamp") as date) from {schema}.usage_events
    union all
    select cast(greatest(max(created_at), max(resolved_at)) as date) from {schema}.support_tickets
),

after_end as (
    select
        count(*) filter (where end_date > cast($data_end as date)) as end_dates_after,
        max(end_date) as latest_end_date
    from {schema}.subscriptions
),

final as (
    select
        (select max(latest_day) from activity) as latest_activity,
        after_end.end_dates_after,
        after_end.latest_end_date
    from after_end
)

select * from final
