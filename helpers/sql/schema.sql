-- Warehouse schema (README: The data model). Keys and rules are declared here
-- so DuckDB enforces them on every write; helpers/warehouse/data_tests.py declares the
-- same rules as data tests so a bad input is reported row by row before any
-- insert is attempted. {industry_values} and the like are filled from
-- helpers.domain, the one source of every vocabulary.
create schema if not exists raw;
create schema if not exists meta;

create table raw.customers (
    customer_id varchar primary key,
    industry varchar not null check (industry in ({industry_values})),
    plan_tier varchar not null check (plan_tier in ({plan_tier_values})),
    signup_date date not null,
    mrr decimal(12, 2) not null check (mrr >= 0),
    churn_date date check (churn_date >= signup_date)
);

create table raw.subscriptions (
    subscription_id varchar primary key,
    customer_id varchar not null references raw.customers (customer_id),
    plan_tier varchar not null check (plan_tier in ({plan_tier_values})),
    start_date date not null,
    end_date date check (end_date > start_date),  -- exclusive; null = ongoing
    mrr decimal(12, 2) not null check (mrr >= 0),  -- an annual plan's MRR is its price / 12
    billing_interval varchar not null check (billing_interval in ({billing_interval_values}))
);

-- usage_events.customer_id refers to customers too, but is not declared a
-- foreign key: DuckDB checks a foreign key row by row, which took 71 of the
-- 144 s of a 100,000-customer build (20M events). The data test
-- relationship_usage_events_customer_id checks it in one join at every build
-- and ingest, before any row reaches this table.
create table raw.usage_events (
    event_id varchar primary key,
    customer_id varchar not null,
    "timestamp" timestamp not null,
    event_type varchar not null check (event_type in ({event_type_values})),
    feature_adoption_score double not null
        check (feature_adoption_score >= 0 and feature_adoption_score <= 1)
);

create table raw.support_tickets (
    ticket_id varchar primary key,
    customer_id varchar not null references raw.customers (customer_id),
    created_at timestamp not null,
    priority varchar not null
        check (priority in ({priority_values})),
    topic varchar not null,
    resolved_at timestamp check (resolved_at >= created_at)
);

-- One row describing the build: where the data came from and what it holds.
create table meta.build_info (
    source varchar not null,          -- 'synthetic' or 'ingested'
    seed bigint,                      -- generator seed (null when ingested)
    data_start date not null,
    data_end date not null,           -- last day covered by the data
    built_at timestamp not null,      -- provenance only, never used in analytics
    row_counts json not null,         -- table name -> row count
    table_hashes json not null,       -- per-table content fingerprints
    content_hash varchar not null,    -- sha256 over the table fingerprints
    schema_version integer not null,
    inputs json                       -- ingested file names, generator parameters
);
