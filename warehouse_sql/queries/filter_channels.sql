-- Channel filter options and the names of channel keys. Grain: one row per channel.
SELECT channel_key, channel_name
FROM dim_channel
ORDER BY channel_key;
