-- Values of {column} in {input_table} that are present but are not
-- {data_type}, or lie outside what the warehouse holds (dates outside
-- $earliest..$latest, money with more than two decimals or beyond
-- DECIMAL(12,2)): the total count and the first few rows, each with why.
with source as (
    select
        _source_row as source_row,
        trim(cast({column} as varchar)) as raw_value
    from {input_table}
),

checked as (
    select
        source_row,
        raw_value,
        {why} as why
    from source
    where nullif(raw_value, '') is not null
),

final as (
    select
        count(*) over () as failures,
        source_row,
        raw_value as value,
        why
    from checked
    where why is not null
)

select * from final
order by source_row
limit 5
