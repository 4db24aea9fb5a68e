-- The drugs of each line: the drug exposures its episode_event rows link to it
-- (episode_event_field_concept_id 1147094, drug_exposure.drug_exposure_id), with the first and
-- last day each drug was given in the line.
SELECT l.person_id, l.line_id, x.drug, x.unknown,
       MIN(x.start_date) AS start_date, MAX(x.end_date) AS end_date
FROM audit_lines l
JOIN omop_episode_event ee ON ee.episode_id = l.line_id AND ee.episode_event_field_concept_id = 1147094
JOIN audit_exposures x ON x.drug_exposure_id = ee.event_id AND x.person_id = l.person_id
GROUP BY l.person_id, l.line_id, x.drug, x.unknown
