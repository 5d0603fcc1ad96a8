-- Single-column primary keys declared on the tables of schema $schema_name:
-- DuckDB refuses a duplicate or missing key on every insert.
with declared as (
    select
        table_name,
        constraint_column_names
    from duckdb_constraints()
    where schema_name = $schema_name
      and constraint_type = 'PRIMARY KEY'
),

final as (
    select
        table_name,
        constraint_column_names[1] as column_name
    from declared
    where len(constraint_column_names) = 1
)

select * from final
