-- The geography behind the region -> state -> city filters. Grain: one row per city.
SELECT city_key, city_name, state, region
FROM dim_city
ORDER BY region, state, city_name;
