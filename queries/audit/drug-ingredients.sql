-- Every drug concept that drug_exposure uses, with the RxNorm ingredients it resolves to: the
-- concept itself when it is an ingredient, otherwise its ancestors that are (concept_ancestor
-- links clinical and branded products to their ingredients).  A concept with no ingredient keeps
-- one row with empty ingredient columns; known_concept is 0 for a concept missing from concept.
WITH used AS (
  SELECT DISTINCT drug_concept_id FROM omop_drug_exposure
),
ingredient AS (
  SELECT concept_id, concept_code, concept_name FROM omop_concept
  WHERE concept_class_id = 'Ingredient' AND vocabulary_id IN ('RxNorm', 'RxNorm Extension')
),
found AS (
  SELECT u.drug_concept_id, i.concept_id AS ingredient_concept_id, i.concept_code AS ingredient_code,
         i.concept_name AS ingredient_name
  FROM used u JOIN ingredient i ON i.concept_id = u.drug_concept_id
  UNION
  SELECT u.drug_concept_id, i.concept_id, i.concept_code, i.concept_name
  FROM used u
  JOIN omop_concept_ancestor a ON a.descendant_concept_id = u.drug_concept_id
  JOIN ingredient i ON i.concept_id = a.ancestor_concept_id
)
SELECT u.drug_concept_id,
       CASE WHEN c.concept_id IS NULL THEN 0 ELSE 1 END AS known_concept,
       c.concept_name AS drug_name,
       f.ingredient_concept_id, f.ingredient_code, f.ingredient_name
FROM used u
LEFT JOIN (SELECT concept_id, MIN(concept_name) AS concept_name FROM omop_concept GROUP BY concept_id) c
  ON c.concept_id = u.drug_concept_id
LEFT JOIN found f ON f.drug_concept_id = u.drug_concept_id
ORDER BY u.drug_concept_id, f.ingredient_concept_id NULLS LAST
