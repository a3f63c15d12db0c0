-- Keep dim_channel equal to the reference channels (fee changes apply to later loads).
INSERT INTO dim_channel (channel_key, channel_name, fee_percent)
VALUES (%(channel_key)s, %(channel_name)s, %(fee_percent)s)
ON CONFLICT (channel_key) DO UPDATE
SET channel_name = EXCLUDED.channel_name, fee_percent = EXCLUDED.fee_percent
WHERE (dim_channel.channel_name, dim_channel.fee_percent)
      IS DISTINCT FROM (EXCLUDED.channel_name, EXCLUDED.fee_percent);
