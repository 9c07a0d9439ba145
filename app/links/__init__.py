"""Links between cases: a discharge case to its intermediate-care episode or CHC referral."""
