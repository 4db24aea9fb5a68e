-- The rows the mapping (audit_mapping: omop_table, concept_id, field, value) picks out of
-- measurement, observation, condition_occurrence and episode, each with its date.  value_text is
-- the mapping's value, else the row's value_as_string (observation); value_number the row's
-- value_as_number.
SELECT m.person_id, p.field, p.value AS value_text, m.value_as_number AS value_number, m.measurement_date AS fact_date
FROM omop_measurement m
JOIN audit_mapping p ON p.omop_table = 'measurement' AND p.concept_id = m.measurement_concept_id
UNION ALL
SELECT o.person_id, p.field, COALESCE(p.value, o.value_as_string), o.value_as_number, o.observation_date
FROM omop_observation o
JOIN audit_mapping p ON p.omop_table = 'observation' AND p.concept_id = o.observation_concept_id
UNION ALL
SELECT c.person_id, p.field, p.value, CAST(NULL AS DOUBLE), c.condition_start_date
FROM omop_condition_occurrence c
JOIN audit_mapping p ON p.omop_table = 'condition_occurrence' AND p.concept_id = c.condition_concept_id
UNION ALL
SELECT e.person_id, p.field, p.value, CAST(NULL AS DOUBLE), e.episode_start_date
FROM omop_episode e
JOIN audit_mapping p ON p.omop_table = 'episode' AND p.concept_id = e.episode_concept_id
