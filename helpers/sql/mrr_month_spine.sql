-- Every month of the MRR history, as the first day of the month: from the
-- month of the first subscription start to the month after the last
-- subscription end (so that last churn is counted), or to the last snapshot
-- the data can see while a subscription is ongoing: the first day of a month
-- on or before the day after the data end (meta.build_info.data_end), so data
-- through 30 June shows the state on 1 July. Never later: an end date after
-- the data end is a scheduled cancellation, not an observed month.
with subscriptions as (
    select
        start_date,
        end_date
    from raw.subscriptions
),

build_info as (
    select
        data_end
    from meta.build_info
),

bounds as (
    select
        cast(date_trunc('month', min(subscriptions.start_date)) as date) as first_month,
        -- A subscription ending on end_date (exclusive) is last counted in
        -- the month holding end_date - 1 day, so its churn shows the month
        -- after. greatest() skips the null of a history without ongoing
        -- (or without ended) subscriptions.
        cast(least(
            greatest(
                max(date_trunc('month', subscriptions.end_date - interval 1 day) + interval 1 month),
                max(case
                    when subscriptions.end_date is null or subscriptions.end_date > build_info.data_end
                        then date_trunc('month', build_info.data_end + interval 1 day)
                end)
            ),
            max(date_trunc('month', build_info.data_end + interval 1 day))
        ) as date) as last_month
    from subscriptions
    cross join build_info
),

-- unnest() in the select list, rather than generate_series() as a table
-- in the from clause, so that Spark gets the same series as
-- explode(sequence(...)) (helpers/spark.py translates every query).
spine as (
    select
        unnest(generate_series(
            cast(bounds.first_month as timestamp),
            cast(bounds.last_month as timestamp),
            interval 1 month
        )) as month_start
    from bounds
),

months as (
    select
        cast(month_start as date) as month
    from spine
),

final as (
    select
        month
    from months
)

select * from final
