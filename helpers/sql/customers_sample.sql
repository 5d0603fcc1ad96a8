-- A reproducible reservoir sample of {sample_size} customers. The size is
-- an int validated by the caller: DuckDB's SAMPLE clause takes no bound
-- parameter.
with sampled as (
    select
        customer_id,
        industry,
        plan_tier,
        signup_date,
        mrr,
        churn_date
    from raw.customers
    using sample reservoir({sample_size} rows) repeatable ({sample_seed})
),

final as (
    select * from sampled
)

select * from final
order by customer_id
