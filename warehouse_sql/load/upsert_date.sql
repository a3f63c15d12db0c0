-- The day's calendar row.
INSERT INTO dim_date (date_key, full_date, day, month, quarter, year, day_of_week, day_name, weekday_flag)
VALUES (%(date_key)s, %(full_date)s, %(day)s, %(month)s, %(quarter)s, %(year)s, %(day_of_week)s, %(day_name)s, %(weekday_flag)s)
ON CONFLICT (date_key) DO NOTHING;
