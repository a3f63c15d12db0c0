SELECT city_key, city_name, state FROM dim_city;
