-- Values of {column} in {input_table} that are present but do not parse as
-- {data_type}: the total count and the first few rows.
with source as (
    select
        _source_row as source_row,
        trim(cast({column} as varchar)) as raw_value
    from {input_table}
),

failing as (
    select
        source_row,
        raw_value
    from source
    where nullif(raw_value, '') is not null
      and try_cast(raw_value as {data_type}) is null
),

final as (
    select
        count(*) over () as failures,
        source_row,
        raw_value as value
    from failing
)

select * from final
order by source_row
limit 5
