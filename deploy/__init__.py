"""Build-time tooling of a deployment: the deployment file an adopter keeps outside the
repository (``model``), what is generated from it for Chalice and CloudFormation
(``generate``), a first file written from the organization (``organization``), and the
versioned release bundle (``release``). Run as ``python -m deploy``; never deployed: the
functions read only their environment, which ``generate`` writes."""
