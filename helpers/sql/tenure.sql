-- Tenure of every customer who signed up before $as_of: from signup_date to
-- the first churn, censored at $as_of. The first churn is the end of the
-- customer's first unbroken run of subscriptions (the first day no
-- subscription covers), the rule customers.churn_date follows, but taken as
-- known on $as_of: a churn after $as_of is not yet known and a return after a
-- churn does not undo it. The customer_segments placeholder takes one of
-- segments/*.sql ('all' when unsegmented).
with customer_segments as (
    {customer_segments}
),

customers as (
    select
        customer_id,
        signup_date
    from raw.customers
    where signup_date < cast($as_of as date)
),

subscriptions as (
    select
        customer_id,
        start_date,
        coalesce(end_date, cast('9999-12-31' as date)) as end_date
    from raw.subscriptions
    where start_date <= cast($as_of as date)
),

-- covered_until: the latest end of the customer's earlier subscriptions.
-- A subscription starting after it opens a new run; coverage lapsed there.
ordered as (
    select
        customer_id,
        start_date,
        end_date,
        max(end_date) over (
            partition by customer_id
            order by start_date, end_date
            rows between unbounded preceding and 1 preceding
        ) as covered_until
    from subscriptions
),

first_runs as (
    select
        customer_id,
        min(case when start_date > covered_until then covered_until end) as first_gap,
        max(end_date) as last_end
    from ordered
    group by customer_id
),

churns as (
    select
        customer_id,
        coalesce(first_gap, last_end) as first_churn_date
    from first_runs
),

final as (
    select
        customers.customer_id,
        customers.signup_date,
        case
            when churns.first_churn_date <= cast($as_of as date) then churns.first_churn_date
        end as churn_date,
        coalesce(churns.first_churn_date <= cast($as_of as date), false) as churned,
        date_diff(
            'day',
            customers.signup_date,
            least(coalesce(churns.first_churn_date, cast($as_of as date)), cast($as_of as date))
        ) as duration_days,
        customer_segments.segment
    from customers
    inner join customer_segments
        on customer_segments.customer_id = customers.customer_id
    left join churns
        on churns.customer_id = customers.customer_id
)

select * from final
order by customer_id
