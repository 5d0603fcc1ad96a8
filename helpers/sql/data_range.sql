-- First and last day covered by the data in {schema}: the first signup, and
-- the latest date any table records (an end_date is the first day without
-- the subscription, so it is a day the data knows about).
with dates as (
    select min(signup_date) as first_day, max(signup_date) as last_day from {schema}.customers
    union all
    select null, max(churn_date) from {schema}.customers
    union all
    select null, greatest(max(start_date), max(end_date)) from {schema}.subscriptions
    union all
    select null, cast(max("timestamp") as date) from {schema}.usage_events
    union all
    select null, cast(greatest(max(created_at), max(resolved_at)) as date) from {schema}.support_tickets
),

final as (
    select
        min(first_day) as data_start,
        max(last_day) as data_end
    from dates
)

select * from final
