-- Customers whose stored churn_date or mrr disagrees with what their
-- subscriptions imply on $data_end (see customer_state.sql).
with customers as (
    select
        customer_id,
        {row_expr} as source_row,
        churn_date,
        mrr
    from {schema}.customers
),

implied as (
    {customer_state}
),

compared as (
    select
        customers.customer_id,
        customers.source_row,
        customers.churn_date,
        customers.mrr,
        implied.expected_churn_date,
        implied.expected_mrr,
        implied.scheduled_churn_date
    from customers
    inner join implied using (customer_id)
),

final as (
    select
        customer_id as key,
        source_row,
        {value_expr} as value
    from compared
    where {failure_condition}
)

select * from final
