-- Channel filter options. Grain: one row per channel.
SELECT channel_name
FROM dim_channel
ORDER BY channel_key;
