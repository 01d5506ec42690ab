"""`rewardgate eval`: a pipeline measured offline on preference pairs and best-of-N sets.

Called *eval* throughout, never "evaluation": an evaluation is one run of a
pipeline's stages over a call's items (rewardgate/pipeline/evaluator.py).
"""
