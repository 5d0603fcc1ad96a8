-- Insert a customer or update every column of the existing row.
insert into raw.customers (customer_id, industry, plan_tier, signup_date, mrr, churn_date)
values ($customer_id, $industry, $plan_tier, $signup_date, $mrr, $churn_date)
on conflict (customer_id) do update set
    industry = excluded.industry,
    plan_tier = excluded.plan_tier,
    signup_date = excluded.signup_date,
    mrr = excluded.mrr,
    churn_date = excluded.churn_date
