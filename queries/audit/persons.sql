-- The people with a line of therapy: birth, site, death and the last date anything is recorded
-- for them (observation_period's end where there is one), which ends their follow-up.
SELECT p.person_id, p.year_of_birth, p.month_of_birth, p.day_of_birth, p.birth_datetime AS birth_date, p.care_site_id,
       d.death_date, s.last_date
FROM omop_person p
JOIN (SELECT DISTINCT person_id FROM audit_lines) w ON w.person_id = p.person_id
LEFT JOIN (SELECT person_id, MIN(death_date) AS death_date FROM omop_death GROUP BY person_id) d
  ON d.person_id = p.person_id
LEFT JOIN (
  SELECT person_id, MAX(day) AS last_date FROM (
    SELECT person_id, drug_exposure_start_date AS day FROM omop_drug_exposure
    UNION ALL SELECT person_id, drug_exposure_end_date FROM omop_drug_exposure
    UNION ALL SELECT person_id, measurement_date FROM omop_measurement
    UNION ALL SELECT person_id, observation_date FROM omop_observation
    UNION ALL SELECT person_id, condition_start_date FROM omop_condition_occurrence
    UNION ALL SELECT person_id, episode_start_date FROM omop_episode
    UNION ALL SELECT person_id, episode_end_date FROM omop_episode
    UNION ALL SELECT person_id, observation_period_end_date FROM omop_observation_period
  ) days GROUP BY person_id
) s ON s.person_id = p.person_id
ORDER BY p.person_id
