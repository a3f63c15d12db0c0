DELETE FROM agg_daily_city WHERE date_key = %(date_key)s;
DELETE FROM agg_daily_region WHERE date_key = %(date_key)s;
