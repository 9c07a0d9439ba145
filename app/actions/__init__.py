"""Actions and milestones on a case: who owns each step of a discharge and when it is due."""
