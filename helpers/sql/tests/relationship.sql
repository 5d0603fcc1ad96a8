-- Rows of {schema}.{table} whose {column} has no match in {schema}.{parent}.{parent_column}.
with source as (
    select
        {key} as key,
        {row_expr} as source_row,
        {column} as checked_value
    from {schema}.{table}
),

parent as (
    select distinct {parent_column} as parent_value
    from {schema}.{parent}
),

final as (
    select
        cast(source.key as varchar) as key,
        source.source_row,
        cast(source.checked_value as varchar) as value
    from source
    left join parent on source.checked_value = parent.parent_value
    where source.checked_value is not null
      and parent.parent_value is null
)

select * from final
