-- Cities named by the day that dim_city does not hold yet; region comes from the state.
INSERT INTO dim_city (city_name, state, region)
SELECT t.city_name, t.state, t.region
FROM unnest(%(cities)s::text[], %(states)s::text[], %(regions)s::text[]) AS t (city_name, state, region)
ON CONFLICT (city_name, state) DO NOTHING;
