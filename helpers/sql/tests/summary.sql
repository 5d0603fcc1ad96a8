-- Count the failing rows of one data test and keep a few examples, the
-- rows earliest in the input file first.
with failures as (
    {failing_rows}
),

final as (
    select
        count(*) as failures,
        list(struct_pack(key, source_row, value) order by source_row nulls last, key)
            [1:{examples}] as examples
    from failures
)

select * from final
