-- Lines of therapy as the source gives them: episodes of concept 32941 (Cancer Drug Treatment),
-- numbered by episode_number (by start date where it is empty).
SELECT person_id,
       episode_id AS line_id,
       COALESCE(episode_number,
                ROW_NUMBER() OVER (PARTITION BY person_id ORDER BY episode_start_date, episode_id)) AS line_number,
       episode_start_date AS start_date,
       episode_end_date AS end_date
FROM omop_episode
WHERE episode_concept_id = 32941
