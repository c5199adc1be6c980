-- What partition maintenance did during the demo: per table, its
-- partitions now and each kind of action with the path that ran.
\echo '== partition maintenance =='
SELECT c.parent, c.partition_interval, c.retention, c.retention_mode,
       c.default_partition, c.partition_timezone,
       (SELECT count(*) FROM sdp.partitions p WHERE p.parent = c.parent AND NOT p.is_default) AS partitions
  FROM sdp.partition_config c ORDER BY c.parent::text;
SELECT split_part(l.object, '_p', 1) AS table_name, l.action, l.status, count(*) AS n,
       replace(min(l.object), split_part(l.object, '_p', 1) || '_', '') || ' .. ' ||
       replace(max(l.object), split_part(l.object, '_p', 1) || '_', '') AS partitions,
       coalesce(nullif(regexp_replace(min(l.message), '^range \[[^)]*\)[:;]? ?', ''), ''), '-') AS how
  FROM sdp.maintenance_log l
 WHERE l.action IN ('create partition', 'create default partition', 'detach partition', 'drop partition', 'maintenance')
 GROUP BY 1, 2, 3 ORDER BY 1, 2, 3;
