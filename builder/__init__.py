"""Skillport builder: marketplace repository -> validated, signed, packaged static site."""
