-- Each customer's churn_date and current mrr as its subscriptions in
-- {schema} imply on $data_end: churn_date is null while a subscription is
-- active that day, else the last end_date (the first day without one); mrr
-- is the sum of the subscriptions active that day. A customer paying on
-- $data_end whose every subscription has an end date after it (a scheduled
-- cancellation) has that last end date as scheduled_churn_date: it is still
-- paying, and an export may already show the date as its churn_date.
with customers as (
    select customer_id
    from {schema}.customers
),

subscriptions as (
    select
        customer_id,
        end_date,
        mrr,
        start_date <= cast($data_end as date)
            and (end_date is null or end_date > cast($data_end as date)) as active_at_end
    from {schema}.subscriptions
),

per_customer as (
    select
        customer_id,
        bool_or(active_at_end) as active_at_end,
        max(end_date) as last_end_date,
        sum(case when active_at_end then mrr else 0 end) as mrr_at_end,
        bool_or(end_date is null) as has_ongoing
    from subscriptions
    group by customer_id
),

final as (
    select
        customers.customer_id,
        case
            when coalesce(per_customer.active_at_end, false) then null
            else per_customer.last_end_date
        end as expected_churn_date,
        cast(coalesce(per_customer.mrr_at_end, 0) as decimal(12, 2)) as expected_mrr,
        case
            when per_customer.active_at_end and not per_customer.has_ongoing then per_customer.last_end_date
        end as scheduled_churn_date
    from customers
    left join per_customer using (customer_id)
)

select * from final
