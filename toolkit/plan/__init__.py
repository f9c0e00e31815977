"""Pure planners and assessments: desired + observed (+ now) in, decisions out.

Nothing under toolkit.plan imports pymongo, boto3 or click.
"""
