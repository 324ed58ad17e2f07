//! Golden request/response pairs per CRM connector.

mod clio;
mod hubspot;
mod pipedrive;
mod salesforce;
mod strict;
mod zoho;
