"""Graders, one module a lesson: `checks/lesson_NN.py` defines LESSON (see workshop/grading/core.py)."""
