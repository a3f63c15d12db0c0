SELECT city_key, city_name, state, region FROM dim_city;
