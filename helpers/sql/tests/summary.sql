-- The failing rows of one data test as at most {examples} example rows, the
-- rows earliest in the input file first, each carrying the total count (no
-- row: the test passes). Rows, not an ordered list() with a [1:n] slice, and
-- no window over all failures (Spark would gather them in one partition), so
-- that Spark runs the same text (helpers/spark.py translates it).
with failures as (
    {failing_rows}
),

total as (
    select
        count(*) as failures
    from failures
),

examples as (
    select
        key,
        source_row,
        value
    from failures
    order by
        source_row nulls last,
        key
    limit {examples}
),

final as (
    select
        total.failures,
        examples.key,
        examples.source_row,
        examples.value
    from total
    cross join examples
)

select * from final
order by
    source_row nulls last,
    key
