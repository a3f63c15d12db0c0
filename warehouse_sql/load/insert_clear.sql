INSERT INTO fact_transactions SELECT * FROM _clear;
